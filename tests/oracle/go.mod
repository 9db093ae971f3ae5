module connstate/oracle

go 1.19
