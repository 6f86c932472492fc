package storage

import "testing"

func TestKernelAtLeast(t *testing.T) {
	t.Parallel()
	for rel, want := range map[string]bool{
		"6.1.0-28-amd64": true, "5.8.0": true, "5.10": true, "5.7.19": false,
		"4.19.0-26-amd64": false, "5.8-rc1": true, "": false, "x.y": false, "6": false,
	} {
		if got := kernelAtLeast(rel, 5, 8); got != want {
			t.Errorf("kernelAtLeast(%q, 5, 8) = %v, want %v", rel, got, want)
		}
	}
}
