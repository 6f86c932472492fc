package smtpd

import (
	"os"
	"testing"

	"postel/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBenchDirs()
	os.Exit(code)
}
