package cache

// LockScriptHash is the SHA1 of the script that takes a fill lock outside a
// read, as it appears in its EVALSHA.
var LockScriptHash = lockScript.Hash()

// LockKey exposes the Redis key of k's fill lock to the tests.
func LockKey(s *Store, k Key) string { return s.lockKey(k) }
