package format

// PlainHeader reports whether block 0 starts with the SQLite header in the
// clear. It does not when a wrapper VFS (vfs/adiantum, vfs/xts) encrypts
// the pages: the header is then ciphertext that must not be touched, and
// SQLite must bump the change counter itself (the root's
// file.DeviceCharacteristics).
func PlainHeader(block0 []byte) bool {
	return len(block0) >= 16 && string(block0[:16]) == "SQLite format 3\x00"
}
