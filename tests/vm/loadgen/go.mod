module connstate/loadgen

go 1.19
