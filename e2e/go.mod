module github.com/zonegrid/zonegrid/e2e

go 1.26.0
