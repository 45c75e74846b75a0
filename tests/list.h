/* Every test, as TEST(name, timeout in seconds, flags). The runner defines
 * TEST before including this file; test_<name> is defined in
 * tests/test-<area>.c (or tests/variant-<area>.c, built once per -O level).
 * Timeouts only catch hangs: they are several times the normal run time and
 * are tripled in sanitized builds. */

/* tests/test-task.c */
TEST(task_join_returns_result, 30, 0)
TEST(task_detach_runs_to_completion, 30, 0)
TEST(task_join_after_detach_einval, 30, 0)
TEST(task_double_join_einval, 30, 0)
TEST(task_join_self_einval, 30, 0)
TEST(task_cancel_parked, 30, 0)
TEST(task_cancel_from_foreign_thread, 30, 0)
TEST(task_unpark_from_foreign_thread, 30, 0)
TEST(task_cancel_is_sticky, 30, 0)
TEST(task_cancel_before_first_run, 30, 0)
TEST(task_yield_interleaves, 30, 0)
TEST(task_yield_lets_others_run, 30, 0)
TEST(task_self_id_name, 30, 0)
TEST(task_local_survives_migration, 60, 0)
TEST(task_local_exhausts_eagain, 30, 0)
TEST(task_local_cleared_on_reuse, 30, 0)
TEST(task_unpark_token, 30, 0)
TEST(task_unpark_finished_esrch, 30, 0)

/* tests/test-place.c */
TEST(place_pinned_never_moves, 60, TEST_SLOW)
TEST(place_stealable_spreads, 60, 0)
TEST(place_on_out_of_range_einval, 30, 0)
TEST(place_pinned_distributes, 30, 0)
TEST(place_move_to_lands, 60, 0)
TEST(place_pin_unpin, 60, 0)
TEST(place_unpin_spawned_on, 30, 0)

/* tests/variant-tls.c, built at -O2 and at -O3 */
TEST(tls_migrate_O2, 30, 0)
TEST(tls_migrate_O3, 30, 0)

/* tests/test-stack.c */
/* Stacks do not depend on the backend: the million runs once. */
TEST(stack_million_parked, 120, TEST_SLOW | TEST_URING_ONLY)
TEST(stack_overflow_reported, 30, 0)
TEST(stack_large_usable, 30, 0)
TEST(stack_size_invalid_einval, 30, 0)

/* tests/test-time.c */
TEST(time_sleep_never_early, 30, 0)
TEST(time_timers_fire_in_order, 30, 0)
TEST(time_deadline_park_sticky, 30, 0)
TEST(time_deadline_before_sleep, 30, 0)
TEST(time_cancel_sleep_cross_shard, 30, 0)
TEST(time_interval_ticks, 30, 0)
TEST(time_interval_deadline, 30, 0)

/* tests/test-wake.c */
TEST(wake_hammer_cross_shard, 60, TEST_SLOW)
TEST(wake_foreign_block_on, 60, TEST_SLOW)
TEST(wake_two_foreign_threads, 60, TEST_SLOW)

/* tests/test-sync.c */
TEST(sync_mutex_exclusion, 60, 0)
TEST(sync_mutex_fifo_handoff, 30, 0)
TEST(sync_mutex_cancel_waiter, 30, 0)
TEST(sync_mutex_misuse, 30, 0)
TEST(sync_sem_bounds_concurrency, 60, 0)
TEST(sync_sem_fifo_and_misuse, 30, 0)
TEST(sync_sem_release_from_foreign_thread, 30, 0)
TEST(sync_rwlock_shared_exclusive, 60, 0)
TEST(sync_rwlock_writer_fair, 30, 0)
TEST(sync_notify_event, 30, 0)
TEST(sync_cond_bounded_queue, 60, 0)
TEST(sync_waitgroup_barrier_once, 60, 0)
TEST(sync_hammer_cross_shard, 120, TEST_SLOW)

/* tests/test-chan.c */
TEST(chan_mpmc_exactly_once, 120, 0)
TEST(chan_mpmc_unbuffered_exactly_once, 120, 0)
TEST(chan_unbuffered_rendezvous, 30, 0)
TEST(chan_fifo_ring_and_parked, 30, 0)
TEST(chan_close_wakes_parked, 30, 0)
TEST(chan_cancel_parked_fixed, 30, 0)
TEST(chan_cancel_parked_race, 60, 0)
TEST(chan_deadline_timedout, 30, 0)
TEST(chan_select_exactly_one, 120, 0)
TEST(chan_select_all_closed, 30, 0)
TEST(chan_select_try, 30, 0)
TEST(chan_oneshot, 30, 0)
TEST(chan_misuse, 30, 0)

/* tests/test-lchan.c */
TEST(lchan_exactly_once, 60, 0)
TEST(lchan_close_and_cancel, 30, 0)
TEST(lchan_misuse_eperm, 30, 0)

/* tests/test-group.c */
TEST(group_call_busy_shard, 60, 0)
TEST(group_call_cancelled, 30, 0)
TEST(group_call_deadline, 30, 0)
TEST(group_call_flow_control, 60, 0)
TEST(group_call_bad_shard, 30, 0)
TEST(group_token_tree, 30, 0)
TEST(group_token_wait_cancelled, 30, 0)
TEST(group_token_misuse, 30, 0)
TEST(group_first_error_cancels, 30, 0)
TEST(group_deadline, 30, 0)
TEST(group_mixed_placements, 30, 0)
TEST(group_join_cancelled, 30, 0)
TEST(group_misuse, 30, 0)

/* tests/test-io.c */
TEST(io_pipe_across_shards, 60, 0)
TEST(io_socketpair_echo, 60, 0)
TEST(io_signal_storm, 60, 0)
TEST(io_signalfd_in_task, 60, 0)
TEST(io_write_broken_pipe, 30, 0)
TEST(io_cancel_and_deadline, 30, 0)
TEST(io_close_cancels_others, 60, 0)
TEST(io_file_offsets, 30, 0)
TEST(io_small_ring_survives, 60, 0)
TEST(io_bad_input, 30, 0)
TEST(io_pread_partly_cached, 30, 0)

/* tests/test-net.c */
TEST(net_echo_tcp4, 30, 0)
TEST(net_echo_tcp6, 30, 0)
TEST(net_echo_unix, 30, 0)
TEST(net_udp_round_trip, 30, 0)
TEST(net_unix_dgram_round_trip, 30, 0)
TEST(net_connect_refused, 30, 0)
TEST(net_peer_reset, 30, 0)
TEST(net_peer_close_epipe, 30, 0)
TEST(net_connect_deadline, 30, 0)
TEST(net_names, 30, 0)
TEST(net_many_concurrent, 60, 0)
TEST(net_bulk_under_starvation, 120, 0)
TEST(net_connect_cycles, 60, 0)
TEST(net_cancel_races, 120, 0)
TEST(net_cancel_accept_cross_shard, 30, 0)
TEST(net_accept_emfile, 30, 0)
TEST(net_options, 30, 0)
TEST(net_bad_input, 30, 0)
TEST(net_wait_on_reused_fd, 60, 0)
TEST(net_poll_after_consumed_edge, 60, 0)
TEST(net_wait_after_close2_reuse, 60, 0)
TEST(net_cancel_deferred_receive, 60, 0)
TEST(net_close_deferred_receive, 60, 0)
TEST(net_recv_wake_race, 60, 0)
TEST(net_busy_shard_reaps_waiting_receive, 30, 0)
TEST(net_stealable_follows_peer, 30, 0)
TEST(net_pinned_never_follows, 30, 0)
TEST(net_stealable_receives_move, 60, 0)

/* tests/test-fs.c */
TEST(fs_big_file_offsets, 60, 0)
TEST(fs_statx_fields, 30, 0)
TEST(fs_path_round_trips, 30, 0)
TEST(fs_truncate_fallocate, 30, 0)
TEST(fs_bad_input, 30, 0)
TEST(fs_open_cancel_race, 60, 0)
TEST(fs_cancelled_read_canary, 60, 0)
TEST(fs_fork_child_runtime, 60, 0)
TEST(fs_exec_sees_no_fds, 30, 0)
TEST(fs_setuid_after_create, 30, 0)
/* The child picks its own backend (auto, then forced uring): runs once. */
TEST(fs_seccomp_fallback, 30, TEST_URING_ONLY)

/* tests/test-batch.c */
TEST(io_batch_data, 30, 0)
TEST(io_batch_bad_input, 30, 0)
TEST(io_batch_cancel, 60, 0)
TEST(io_batch_close_race, 60, 0)

/* tests/test-blocking.c */
TEST(blocking_runs_off_shard, 30, 0)
TEST(blocking_shard_keeps_running, 30, 0)
TEST(blocking_cancel_before_start, 30, 0)
TEST(blocking_queue_beyond_bound, 30, 0)
TEST(blocking_idle_threads_exit, 30, 0)
TEST(blocking_enter_leave, 30, 0)
TEST(blocking_enter_cancel_queued, 30, 0)
TEST(blocking_hammer_stale_wakes, 60, 0)
TEST(blocking_shutdown_with_work, 30, 0)
TEST(blocking_misuse, 30, 0)

/* tests/test-fork.c */
TEST(fork_from_task, 60, 0)

/* tests/test-runtime.c */
TEST(runtime_shutdown_frees_everything, 60, 0)
TEST(runtime_create_destroy_cycles, 30, 0)
TEST(runtime_run_returns_main_result, 30, 0)
TEST(runtime_bad_config_einval, 30, 0)
TEST(runtime_env_shards_override, 30, 0)
TEST(runtime_env_backend, 30, 0)
TEST(runtime_block_on_errors, 30, 0)
TEST(runtime_calls_outside_task, 30, 0)
TEST(runtime_strerror_names, 30, 0)
TEST(runtime_stats_and_info, 30, 0)
TEST(runtime_stall_reported, 30, 0)
TEST(sanitizer_asan_reports_task_frames, 30, 0)

/* tests/test-http.c (examples/httpd) */
TEST(http_parse_good, 30, 0)
TEST(http_parse_bad, 30, 0)
TEST(http_chunked, 30, 0)
TEST(http_path_decode, 30, 0)
TEST(http_keepalive_pipeline, 30, 0)
TEST(http_bodies, 30, 0)
TEST(http_status_codes, 30, 0)
TEST(http_static_files, 30, 0)
TEST(http_timeouts, 30, 0)
TEST(http_conn_limit, 30, 0)
TEST(http_graceful_stop, 30, 0)

/* tests/test-kv.c (examples/kv) */
TEST(kv_parse_commands, 30, 0)
TEST(kv_session_script, 30, 0)
TEST(kv_session_limits, 30, 0)
TEST(kv_store_lru, 30, 0)
TEST(kv_e2e_sharded, 60, 0)
TEST(kv_e2e_shared, 60, 0)
