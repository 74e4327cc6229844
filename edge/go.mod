module github.com/zonegrid/zonegrid/edge

go 1.26.0
