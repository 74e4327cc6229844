package dnswire

import "testing"

func TestSkipNameAndRR(t *testing.T) {
	// www.example. A 192.0.2.1, then a record whose owner is a pointer to
	// offset 12.
	rr := []byte{3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1}
	msg := append(make([]byte, HeaderLen), rr...)
	msg = append(msg, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 2)
	tests := []struct {
		name string
		got  int
		want int
	}{
		{"plain name", SkipName(msg, HeaderLen), HeaderLen + 13},
		{"pointer", SkipName(msg, HeaderLen+len(rr)), HeaderLen + len(rr) + 2},
		{"record", SkipRR(msg, HeaderLen), HeaderLen + len(rr)},
		{"record with a pointer owner", SkipRR(msg, HeaderLen+len(rr)), len(msg)},
		{"record cut short", SkipRR(msg[:len(msg)-1], HeaderLen+len(rr)), -1},
		{"name past the end", SkipName(msg[:HeaderLen+5], HeaderLen), -1},
		{"reserved label type", SkipName([]byte{0x80}, 0), -1},
		{"pointer cut short", SkipName([]byte{0xc0}, 0), -1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
