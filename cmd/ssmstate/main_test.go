package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// ssmstateBinary builds the command once per test run, so that tests drive
// it as a user does: as a process, with its exit code.
func ssmstateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ssmstate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ssmstate")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/ssmstate: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	cmd := exec.Command(ssmstateBinary(t), "no-such-command")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !asExitError(err, &ee) || ee.ExitCode() != exitUsage {
		t.Fatalf("exit %v, want %d; output %s", err, exitUsage, out)
	}
}

func TestHelpExitsZero(t *testing.T) {
	out, err := exec.Command(ssmstateBinary(t), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("ssmstate --help: %v\n%s", err, out)
	}
}
