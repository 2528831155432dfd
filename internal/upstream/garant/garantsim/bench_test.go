package garantsim

import "testing"

func BenchmarkBuildCorpus(b *testing.B) {
	for b.Loop() {
		buildCorpus(1)
	}
}

func BenchmarkLink1MB(b *testing.B) {
	c := buildCorpus(1)
	var text string
	for len(text) < 1<<20 {
		text += "Согласно статье 15 Гражданского кодекса Российской Федерации и Федеральному закону от 29 декабря 2017 г. N 443-ФЗ стороны обязаны исполнять обязательства надлежащим образом. "
	}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		c.linker.link(c, text, "https://internet.garant.ru")
	}
}
