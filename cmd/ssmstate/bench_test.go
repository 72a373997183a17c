package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runBenchCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestBenchUnknownScenarioIsUsageError(t *testing.T) {
	_, err := runBenchCLI(t, "bench", "--scenario", "nope")
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "lifecycle") {
		t.Fatalf("err = %v, want a usage error listing the scenarios", err)
	}
	_, err = runBenchCLI(t, "bench", "--scenario", "lifecycle", "--plot", "x.png")
	if !errors.As(err, &ue) {
		t.Fatalf("--plot without fleet-restart or size: err = %v, want a usage error", err)
	}
}

func TestBenchLifecycleJSON(t *testing.T) {
	out, err := runBenchCLI(t, "bench", "--scenario", "lifecycle", "--restarts", "1", "--latency", "1ms", "--json", "--quiet")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Results map[string]struct {
			Stores map[string]struct {
				Errors     int `json:"errors"`
				FirstLogin struct {
					SSMCalls int `json:"ssmCalls"`
				} `json:"firstLogin"`
			} `json:"stores"`
		} `json:"results"`
		Tables []struct {
			Scenario string `json:"scenario"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	lc := rep.Results["lifecycle"]
	for _, kind := range []string{"ssmstate", "awsstore"} {
		s, ok := lc.Stores[kind]
		if !ok || s.Errors != 0 || s.FirstLogin.SSMCalls == 0 {
			t.Errorf("%s: %+v (present %v)", kind, s, ok)
		}
	}
	if len(rep.Tables) != 1 || rep.Tables[0].Scenario != "lifecycle" {
		t.Errorf("tables: %+v", rep.Tables)
	}
}

func TestBenchSizeTableAndPlot(t *testing.T) {
	plot := filepath.Join(t.TempDir(), "size.svg")
	out, err := runBenchCLI(t, "bench", "--scenario", "size", "--latency", "0s", "--quiet", "--plot", plot)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"== size:", "ssmstate", "awsstore", "1 MiB", "Standard", "fails", "plot: " + plot} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(plot); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("plot %s: %v", plot, err)
	}
}
