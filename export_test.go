package s3vfs

// AllowWALHeaderForTest lets commits publish the WAL flag in the database
// header, as versions before the check could, so that tests can make such
// a database; the returned function restores the check.
func AllowWALHeaderForTest() (restore func()) {
	refuseWALHeader = false
	return func() { refuseWALHeader = true }
}
