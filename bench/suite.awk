# The table, CSV and SVG chart of bench/suite.sh.
#
# Input: the row definitions on standard input (see ROWS in suite.sh); the
# RESULT lines are read from the file named by -v results=. Variables: csv,
# svg (output paths), keep (1: a checksum mismatch does not fail), load0,
# load1 (load averages), stamp, quick, rounds.
#
# A row names up to six results: spindle pinned-only, spindle recommended,
# tokio (multi-thread), tokio-ct, go, and a raw baseline. Each result's
# median, min and max are taken over the rounds. The ratio of a peer is its
# median over the best spindle median of the row; every unit here is time
# per operation, so a ratio above 1 means spindle is faster.
# Exit status: 1 if checksums differ (unless keep=1), else 0.

function field(name,    i) {
    for (i = 2; i <= NF; i++) {
        if (index($i, name "=") == 1) {
            return substr($i, length(name) + 2)
        }
    }
    return ""
}

function fmt(v) {
    if (v == "") return "NA"
    if (v >= 1000) return sprintf("%.0f", v)
    if (v >= 100) return sprintf("%.1f", v)
    if (v >= 10) return sprintf("%.2f", v)
    return sprintf("%.3f", v)
}

function sortn(a, n,    i, j, x) {
    for (i = 2; i <= n; i++) {
        x = a[i]
        for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]
        a[j + 1] = x
    }
}

# stat(key): sets MED, LO, HI (empty when there is no sample).
function stat(key,    m, i, s) {
    MED = ""; LO = ""; HI = ""
    m = nval[key] + 0
    if (m == 0) return
    for (i = 1; i <= m; i++) s[i] = vals[key, i]
    sortn(s, m)
    MED = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
    LO = s[1]
    HI = s[m]
}

# key_of(runtime, cell): "runtime SUBSEP workload/variant", or "" for "-".
# A raw cell carries its runtime: "pthread:workload/variant".
function key_of(rt, cell,    p) {
    if (cell == "-" || cell == "") return ""
    p = index(cell, ":")
    if (p > 0) return substr(cell, 1, p - 1) SUBSEP substr(cell, p + 1)
    return rt SUBSEP cell
}

function ratio(peer, best) {
    if (peer == "" || best == "" || best == 0) return ""
    return peer / best
}

function cell_text(key) {
    if (key == "") return "-"
    stat(key)
    if (MED == "") {
        if (key in why) {
            na_note[key] = why[key]
        }
        return "NA"
    }
    return fmt(MED)
}

function svg_y(r,    l) {
    # log2 scale from 1/16 to 32
    if (r < 1 / 16) r = 1 / 16
    if (r > 32) r = 32
    l = log(r) / log(2)
    return PLOT_TOP + (5 - l) / 9 * PLOT_H
}

BEGIN {
    while ((getline line < results) > 0) {
        if (line !~ /^RESULT /) continue
        $0 = line
        rt = field("runtime")
        if (rt == "") rt = "spindle"
        w = field("workload")
        key = rt SUBSEP w "/" field("variant")
        v = field("value")
        if (v == "NA" || v == "") {
            r = field("reason")
            why[key] = (r == "" ? "no value" : r)
        } else {
            vals[key, ++nval[key]] = v + 0
        }
        if (field("unit") != "") unit[key] = field("unit")
        cs = field("checksum")
        if (cs != "") {
            who = rt ":" field("variant")
            if (!(w in sum)) {
                sum[w] = cs; sum_who[w] = who; nsum_w[++nsum] = w
            } else if (sum[w] != cs && !((w, who, cs) in bad_seen)) {
                bad_seen[w, who, cs] = 1
                bad = bad sprintf("\n  %s: %s has checksum %s, %s has %s", w, who, cs, \
                                  sum_who[w], sum[w])
            }
            sum_rts[w] = sum_rts[w] (index(" " sum_rts[w] " ", " " who " ") ? "" : " " who)
        }
        if (rt == "spindle" && field("spin_ns") != "" && spin == "") spin = field("spin_ns")
        c = field("process_cpu_pct")
        if (c != "") { cpu[key] += c; ncpu[key]++ }
    }
    close(results)
    nrows = 0
    PLOT_TOP = 60; PLOT_H = 360
}

NF >= 8 && $1 !~ /^#/ {
    n = ++nrows
    row[n] = $1; regime[n] = $2
    k[n, 1] = key_of("spindle", $3)
    k[n, 2] = key_of("spindle", $4)
    k[n, 3] = key_of("tokio", $5)
    k[n, 4] = key_of("tokio-ct", $6)
    k[n, 5] = key_of("go", $7)
    k[n, 6] = key_of("", $8)
    rawname[n] = ($8 == "-") ? "" : substr($8, 1, index($8, ":") - 1)
}

END {
    hdr = sprintf("%-41s %-14s %-4s %-24s %-24s %9s %9s %9s %-24s %6s %6s %6s %6s", \
                  "row", "regime", "unit", "spindle pinned-only", "spindle recommended", \
                  "tokio", "tokio-ct", "go", "raw", "tok/sp", "ct/sp", "go/sp", "raw/sp")
    printf "spindle vs peers, %s%s: median (min-max) over %d rounds; ratio = peer / best spindle (>1: spindle faster)\n", \
        stamp, (quick == 1 ? " (QUICK)" : ""), rounds
    printf "spindle spin-before-park: %s ns (default) unless the regime says otherwise; shard threads pinned, peers' threads not\n", \
        (spin == "" ? "?" : spin)
    print hdr
    printf "row,regime,unit,spindle_pinned,spindle_pinned_min,spindle_pinned_max," \
           "spindle_recommended,spindle_recommended_min,spindle_recommended_max," \
           "tokio,tokio_ct,go,raw_runtime,raw,ratio_tokio,ratio_tokio_ct,ratio_go,ratio_raw\n" > csv
    for (n = 1; n <= nrows; n++) {
        u = ""
        best = ""
        for (c = 1; c <= 6; c++) {
            stat(k[n, c])
            med[c] = MED; lo[c] = LO; hi[c] = HI
            if (u == "" && (k[n, c] in unit)) u = unit[k[n, c]]
            if (c <= 2 && MED != "" && (best == "" || MED < best)) best = MED
        }
        for (c = 1; c <= 2; c++) {
            if (k[n, c] == "") sp[c] = "-"
            else if (med[c] == "") sp[c] = cell_text(k[n, c])
            else sp[c] = fmt(med[c]) " (" fmt(lo[c]) "-" fmt(hi[c]) ")"
        }
        for (c = 3; c <= 6; c++) {
            pt[c] = cell_text(k[n, c])
            rt_[c] = ratio(med[c], best)
            rs[c] = (rt_[c] == "") ? "-" : sprintf("%.2f", rt_[c])
            rr[n, c] = rt_[c]
        }
        rawcell = (rawname[n] == "") ? "-" : pt[6] " " rawname[n]
        printf "%-41s %-14s %-4s %-24s %-24s %9s %9s %9s %-24s %6s %6s %6s %6s\n", \
            row[n], regime[n], u, sp[1], sp[2], pt[3], pt[4], pt[5], rawcell, \
            rs[3], rs[4], rs[5], rs[6]
        # The regime may hold a comma ("idle,spin50us"): quoted.
        printf "%s,\"%s\",%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", row[n], regime[n], u, \
            med[1], lo[1], hi[1], med[2], lo[2], hi[2], med[3], med[4], med[5], rawname[n], \
            med[6], rt_[3], rt_[4], rt_[5], rt_[6] > csv
    }
    close(csv)

    # Notes under the table.
    printf "\nload average at start %s, at end %s (other load on a 2-vCPU machine skews every number)\n", \
        load0, load1
    for (key in cpu) {
        split(key, kk, SUBSEP)
        cpus = cpus sprintf("\n  %s %s: %.0f%%", kk[1], kk[2], cpu[key] / ncpu[key])
    }
    if (cpus != "") {
        print "process CPU use of the net rows (client and server share the process, so this is"
        printf "the load generator's CPU too; 100%% = one CPU busy):%s\n", cpus
    }
    for (key in na_note) {
        split(key, kk, SUBSEP)
        nas = nas sprintf("\n  %s %s: %s", kk[1], kk[2], na_note[key])
    }
    if (nas != "") print "NA cells:" nas
    for (i = 1; i <= nsum; i++) {
        w = nsum_w[i]
        sums = sums sprintf("\n  %s = %s (%s )", w, sum[w], sum_rts[w])
    }
    if (sums != "") print "checksums compared:" sums

    # The chart.
    ngroups = nrows
    gw = 64
    W = 90 + ngroups * gw + 40
    H = PLOT_TOP + PLOT_H + 200
    color[3] = "#d9534f"; color[4] = "#f0ad4e"; color[5] = "#5bc0de"; color[6] = "#999999"
    lname[3] = "tokio (multi-thread, 2 workers)"; lname[4] = "tokio current-thread"
    lname[5] = "Go"; lname[6] = "raw baseline"
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" " \
           "font-family=\"sans-serif\" font-size=\"11\">\n", W, H > svg
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n" > svg
    printf "<text x=\"10\" y=\"20\" font-size=\"15\">peer time / spindle time (best spindle " \
           "placement), log scale: above 1 spindle is faster</text>\n" > svg
    printf "<text x=\"10\" y=\"38\">%s%s, %d rounds, load %s .. %s</text>\n", stamp, \
           (quick == 1 ? " QUICK" : ""), rounds, load0, load1 > svg
    for (c = 3; c <= 6; c++) {
        lx = 90 + (c - 3) * 210
        printf "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>" \
               "<text x=\"%d\" y=\"%d\">%s</text>\n", lx, H - 22, color[c], lx + 14, H - 13, \
               lname[c] > svg
    }
    split("0.0625 0.125 0.25 0.5 1 2 4 8 16 32", ticks, " ")
    for (t = 1; t <= 10; t++) {
        y = svg_y(ticks[t])
        printf "<line x1=\"80\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" " \
               "stroke-width=\"%s\"/>\n", W - 30, y, y, (ticks[t] == 1 ? "black" : "#e5e5e5"), \
               (ticks[t] == 1 ? "1.5" : "1") > svg
        printf "<text x=\"74\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", y + 4, \
               ticks[t] + 0 > svg
    }
    y1 = svg_y(1)
    for (n = 1; n <= nrows; n++) {
        gx = 90 + (n - 1) * gw
        b = 0
        for (c = 3; c <= 6; c++) {
            x = gx + b * 13
            b++
            if (rr[n, c] == "") continue
            y = svg_y(rr[n, c])
            top = (y < y1) ? y : y1
            h = (y < y1) ? y1 - y : y - y1
            if (h < 1) h = 1
            printf "<rect x=\"%d\" y=\"%.1f\" width=\"12\" height=\"%.1f\" fill=\"%s\">" \
                   "<title>%s %s: %.2f</title></rect>\n", x, top, h, color[c], row[n], \
                   lname[c], rr[n, c] > svg
        }
        lbl = row[n] (regime[n] == "-" ? "" : " [" regime[n] "]")
        lx = gx + 26
        ly = PLOT_TOP + PLOT_H + 8
        printf "<text x=\"%d\" y=\"%d\" transform=\"rotate(50 %d %d)\">%s</text>\n", \
               lx, ly, lx, ly, lbl > svg
    }
    print "</svg>" > svg
    close(svg)

    if (bad != "") {
        print "CHECKSUM MISMATCH (the runtimes did not do the same work):" bad
        if (keep != 1) exit 1
    }
    exit 0
}
