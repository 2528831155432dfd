package garantsim

import "testing"

func BenchmarkBuildCorpus(b *testing.B) {
	for b.Loop() {
		buildCorpus(1)
	}
}
