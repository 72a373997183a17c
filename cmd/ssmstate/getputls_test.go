package main

// In-process tests of get, put and ls: the cobra root with SetArgs/SetOut,
// over file and mem: locators.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/store"
)

// run runs ssmstate with args and stdin in this process.
func run(t *testing.T, stdin io.Reader, args ...string) (stdout string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	if stdin != nil {
		root.SetIn(stdin)
	}
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), err
}

func mustRun(t *testing.T, stdin io.Reader, args ...string) string {
	t.Helper()
	out, err := run(t, stdin, args...)
	if err != nil {
		t.Fatalf("ssmstate %s: %v", strings.Join(args, " "), err)
	}
	return out
}

var memLocSeq atomic.Int64

// locators returns one fresh file and one fresh mem: locator.
func locators(t *testing.T) map[string]string {
	return map[string]string{
		"file": filepath.Join(t.TempDir(), "tailscaled.state"),
		"mem":  fmt.Sprintf("mem:cli-%d", memLocSeq.Add(1)),
	}
}

func TestPutGetLs(t *testing.T) {
	binary := []byte{0, 1, 2, 0xff, '\n', 0xfe}
	for kind, loc := range locators(t) {
		t.Run(kind, func(t *testing.T) {
			if out := mustRun(t, nil, "put", loc, "_current-profile", "profile-1a2b"); out != "wrote _current-profile (12 bytes)\n" {
				t.Errorf("put output %q", out)
			}
			mustRun(t, bytes.NewReader(binary), "put", loc, "_machinekey", "-")
			mustRun(t, strings.NewReader("from stdin, no dash"), "put", loc, "_profiles")
			mustRun(t, strings.NewReader(""), "put", loc, "empty", "-")

			if got := mustRun(t, nil, "get", loc, "_current-profile"); got != "profile-1a2b" {
				t.Errorf("get _current-profile = %q", got)
			}
			if got := mustRun(t, nil, "get", loc, "_machinekey"); got != string(binary) {
				t.Errorf("get _machinekey = %q, want the raw bytes %q", got, binary)
			}
			if got := mustRun(t, nil, "get", loc, "_profiles"); got != "from stdin, no dash" {
				t.Errorf("get _profiles = %q", got)
			}
			if got := mustRun(t, nil, "get", loc, "empty"); got != "" {
				t.Errorf("get empty = %q", got)
			}

			ls := mustRun(t, nil, "ls", loc)
			want := "  12  _current-profile\n" +
				"   6  _machinekey\n" +
				"  19  _profiles\n" +
				"   0  empty\n"
			if ls != want {
				t.Errorf("ls =\n%s\nwant\n%s", ls, want)
			}
			for _, secret := range []string{"profile-1a2b", "from stdin"} {
				if strings.Contains(ls, secret) {
					t.Errorf("ls prints a value: %q", ls)
				}
			}
			js := mustRun(t, nil, "ls", "--json", loc)
			if !strings.Contains(js, `"key": "_machinekey"`) || !strings.Contains(js, `"size": 6`) || strings.Contains(js, "profile-1a2b") {
				t.Errorf("ls --json = %s", js)
			}

			// Overwrite, then the state seen through the library agrees.
			mustRun(t, nil, "put", loc, "_current-profile", "profile-9")
			s, err := store.Open(context.Background(), loc)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if v, err := s.ReadState(context.Background(), "_current-profile"); err != nil || string(v) != "profile-9" {
				t.Errorf("library reads %q, %v", v, err)
			}
		})
	}
}

func TestGetAbsentKey(t *testing.T) {
	loc := locators(t)["file"]
	mustRun(t, nil, "put", loc, "k", "v")
	out, err := run(t, nil, "get", loc, "nope")
	if !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("get of an absent key = %v, want ErrNotExist", err)
	}
	if out != "" {
		t.Errorf("get of an absent key printed %q", out)
	}
	cause, fix := explain(err)
	if !strings.Contains(cause, `"nope"`) || !strings.Contains(fix, "ssmstate ls") {
		t.Errorf("printed error: %q / %q", cause, fix)
	}
}

func TestLsEmpty(t *testing.T) {
	for kind, loc := range locators(t) {
		t.Run(kind, func(t *testing.T) {
			if out := mustRun(t, nil, "ls", loc); out != "" {
				t.Errorf("ls of a new state = %q, want nothing", out)
			}
			if out := mustRun(t, nil, "ls", "--json", loc); out != "[]\n" {
				t.Errorf("ls --json of a new state = %q, want []", out)
			}
		})
	}
}

func TestGetPutLsUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"get", "arn:aws:s3:us-east-1:123456789012:parameter/n", "k"},
		{"put", "arn:aws:ssm:us-east-1:12:parameter/n", "k", "v"},
		{"ls", "arn:aws:ssm:us-east-1:123456789012:parameter/aws/x"},
	} {
		_, err := run(t, nil, args...)
		var ue usageError
		var le *locator.Error
		if !errors.As(err, &ue) || !errors.As(err, &le) {
			t.Errorf("ssmstate %q = %v, want a usage error for the locator", args, err)
		}
	}
	for _, args := range [][]string{
		{"get", "mem:x"},
		{"put", "mem:x"},
		{"put", "mem:x", "k", "v", "extra"},
		{"ls"},
	} {
		_, err := run(t, nil, args...)
		if err == nil || !isCobraUsageError(err) {
			t.Errorf("ssmstate %q = %v, want an argument-count usage error", args, err)
		}
	}
}

func TestCorruptFileIsReported(t *testing.T) {
	loc := locators(t)["file"]
	mustRun(t, nil, "put", loc, "k", "v")
	if err := writeFile(loc, "not json"); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, nil, "ls", loc)
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), loc) {
		t.Fatalf("ls of a corrupt file = %v, want ErrCorrupt naming it", err)
	}
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}
