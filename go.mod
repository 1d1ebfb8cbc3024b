module github.com/hookwise/hookwise

go 1.26
