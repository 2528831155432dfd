package jsonscan

// DecodeInPlace is Decode with strings of at least inPlace bytes decoded in
// place, so that short documents exercise the in-place path.
var DecodeInPlace = decode
