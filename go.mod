module github.com/zonegrid/zonegrid

go 1.26.0
