package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/bench"
)

func newBenchCmd() *cobra.Command {
	cfg := bench.DefaultConfig()
	var (
		scenarios []string
		asJSON    bool
		markdown  bool
		plotFile  string
		quiet     bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ssmstate against Tailscale's own SSM store and against SSM's limits",
		Long: `Run benchmark scenarios on an in-process local AWS endpoint with a per-call
latency and AWS's quotas, each with both ssmstate and Tailscale's
ipn/store/awsstore on the same settings, and print a table per scenario with
both stores, their ratio, and the limit the quota sets.

Scenarios: ` + strings.Join(bench.ScenarioNames(), ", ") + `. All run by default
(a few minutes on a 2-core machine); --scenario picks some.

awsstore is pointed at the endpoint through AWS_ENDPOINT_URL_SSM and dummy
credentials, set in this process while a scenario runs. Nothing leaves the
process.`,
		Example: `  ssmstate bench
  ssmstate bench --scenario fleet-restart --nodes 2000 --plot fleet.png
  ssmstate bench --scenario lifecycle,size --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var run []bench.Scenario
			if len(scenarios) == 0 {
				run = bench.Scenarios()
			}
			for _, name := range scenarios {
				sc, ok := bench.Lookup(name)
				if !ok {
					return usageError{fmt.Errorf("unknown scenario %q; choose from %s", name, strings.Join(bench.ScenarioNames(), ", "))}
				}
				run = append(run, sc)
			}
			if plotFile != "" && !slices.ContainsFunc(run, func(s bench.Scenario) bool { return s.Name == "fleet-restart" || s.Name == "size" }) {
				return usageError{fmt.Errorf("--plot draws the fleet-restart and size scenarios; include at least one of them")}
			}
			if cfg.Nodes < 1 || cfg.LoginNodes < 1 || cfg.ReadRate <= 0 || cfg.WriteRate <= 0 {
				return usageError{fmt.Errorf("--nodes and --login-nodes must be at least 1, --read-rate and --write-rate above 0")}
			}
			if !quiet {
				cfg.Progress = cmd.ErrOrStderr()
			}
			return runBench(cmd, cfg, run, asJSON, markdown, plotFile)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&scenarios, "scenario", nil, "scenarios to run, by name (repeat or separate with commas; default all): "+strings.Join(bench.ScenarioNames(), ", "))
	f.BoolVar(&asJSON, "json", false, "print structured results as JSON instead of tables")
	f.BoolVar(&markdown, "markdown", false, "print the tables as Markdown")
	f.StringVar(&plotFile, "plot", "", "draw the fleet-restart curve and the size sweep into this .png or .svg file")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on standard error")
	f.DurationVar(&cfg.Latency, "latency", cfg.Latency, "latency of every call at the endpoint")
	f.IntVar(&cfg.Restarts, "restarts", cfg.Restarts, "lifecycle: restarts after the first login")
	f.IntVar(&cfg.Writers, "writers", cfg.Writers, "concurrent: writer goroutines")
	f.IntVar(&cfg.WritesPerWriter, "writes", cfg.WritesPerWriter, "concurrent: writes per goroutine")
	f.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "fleet-restart: nodes that open their state at once")
	f.Float64Var(&cfg.ReadRate, "read-rate", cfg.ReadRate, "read quota (GetParameter, GetParameters, GetParametersByPath) per second")
	f.IntVar(&cfg.LoginNodes, "login-nodes", cfg.LoginNodes, "fleet-login: nodes that log in at once")
	f.Float64Var(&cfg.WriteRate, "write-rate", cfg.WriteRate, "fleet-login: PutParameter quota per second")
	return cmd
}

// benchReport is what --json prints.
type benchReport struct {
	Started  time.Time               `json:"started"`
	Config   bench.Config            `json:"config"`
	Results  map[string]bench.Result `json:"results"`
	Tables   []bench.Table           `json:"tables"`
	PlotFile string                  `json:"plotFile,omitempty"`
}

func runBench(cmd *cobra.Command, cfg bench.Config, run []bench.Scenario, asJSON, markdown bool, plotFile string) error {
	out := cmd.OutOrStdout()
	rep := benchReport{Started: time.Now().UTC(), Config: cfg, Results: map[string]bench.Result{}}
	var restart *bench.FleetRestartResult
	var size *bench.SizeResult
	for _, sc := range run {
		start := time.Now()
		r, err := sc.Run(cmd.Context(), cfg)
		if err != nil {
			return fmt.Errorf("bench scenario %s: %w", sc.Name, err)
		}
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "%s: done in %s\n", sc.Name, time.Since(start).Round(time.Second))
		}
		rep.Results[sc.Name] = r
		t := r.Table()
		rep.Tables = append(rep.Tables, t)
		if !asJSON {
			printTable(out, t, markdown)
		}
		switch x := r.(type) {
		case *bench.FleetRestartResult:
			restart = x
		case *bench.SizeResult:
			size = x
		}
	}
	if plotFile != "" {
		if err := bench.Plot(plotFile, restart, size); err != nil {
			return err
		}
		rep.PlotFile = plotFile
		if !asJSON {
			fmt.Fprintf(out, "plot: %s\n", plotFile)
		}
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return nil
}

func printTable(w io.Writer, t bench.Table, markdown bool) {
	if markdown {
		t.Markdown(w)
	} else {
		t.Print(w)
	}
}
