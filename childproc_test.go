package s3vfs_test

const childEnv = "S3VFS_TEST_CHILD"

func runChild(kind string) int { return 2 }
