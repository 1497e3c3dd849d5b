package awsconf

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/logging"
)

// The configuration and the S3 client log nothing, and the client leaves
// response checksums unvalidated, even where the environment asks for
// validation and the log mode would log requests.
func TestQuiet(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "id")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_supported")
	cfg, err := Load(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Logger.(logging.Nop); !ok || cfg.ClientLogMode != 0 {
		t.Errorf("logger %T, log mode %v; want logging.Nop and 0", cfg.Logger, cfg.ClientLogMode)
	}
	o := S3Client(cfg, "http://127.0.0.1:1", true).Options()
	if _, ok := o.Logger.(logging.Nop); !ok || o.ClientLogMode != 0 {
		t.Errorf("client logger %T, log mode %v; want logging.Nop and 0", o.Logger, o.ClientLogMode)
	}
	if o.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired || !o.DisableLogOutputChecksumValidationSkipped {
		t.Errorf("client validates response checksums %v (skips logged: %v), want only when required, never logged",
			o.ResponseChecksumValidation, !o.DisableLogOutputChecksumValidationSkipped)
	}
}
