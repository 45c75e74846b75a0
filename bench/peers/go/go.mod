module spindle-peer-go

go 1.19
