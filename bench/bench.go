// Package bench measures ssmstate against Tailscale's own SSM state store
// (tailscale.com/ipn/store/awsstore) and against the limits SSM's quotas
// set, on the local AWS endpoint (package emulator) with a per-call latency
// and AWS's quotas switched on.
//
// Every scenario runs both stores on the same endpoint settings, one after
// the other, and returns a structured result that also renders as a table
// (both stores, their ratio, and the limit). Calls and bytes are counted by
// a proxy in front of the endpoint, so they are counted the same way for
// both stores. awsstore has no option for an endpoint or an AWS
// configuration: it is pointed at the proxy through AWS_ENDPOINT_URL_SSM and
// dummy credentials in the process environment, which a scenario sets
// while it runs and restores afterwards (scenarios therefore run one at a
// time in a process).
package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Config holds every scenario's settings. DefaultConfig gives the values
// of the published run; tests shrink them.
type Config struct {
	// Latency delays every call at the endpoint, as a remote AWS would.
	Latency time.Duration `json:"latency"`

	// Restarts is how many restarts follow the first login (lifecycle).
	Restarts int `json:"restarts"`

	// Writers and WritesPerWriter shape the concurrent-writers scenario:
	// each writer writes its own key WritesPerWriter times.
	Writers         int `json:"writers"`
	WritesPerWriter int `json:"writesPerWriter"`

	// Nodes is the fleet that restarts at once; ReadRate the shared read
	// quota (transactions a second over GetParameter, GetParameters and
	// GetParametersByPath).
	Nodes    int     `json:"nodes"`
	ReadRate float64 `json:"readRate"`

	// LoginNodes is the fleet that logs in for the first time at once;
	// WriteRate the PutParameter quota it runs under (ReadRate applies too).
	LoginNodes int     `json:"loginNodes"`
	WriteRate  float64 `json:"writeRate"`

	// Sizes are the state sizes of the size sweep, in bytes of values.
	Sizes []int `json:"sizes"`

	// Progress, if set, receives a line per step.
	Progress io.Writer `json:"-"`
}

// DefaultConfig is the configuration of the published run.
func DefaultConfig() Config {
	return Config{
		Latency:         10 * time.Millisecond,
		Restarts:        20,
		Writers:         16,
		WritesPerWriter: 200,
		Nodes:           1000,
		ReadRate:        40,
		LoginNodes:      200,
		WriteRate:       20,
		Sizes:           []int{1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20},
	}
}

func (c Config) logf(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// Table is a scenario's result as printed: one row per metric with both
// stores, their ratio (ssmstate / awsstore) and the limit.
type Table struct {
	Scenario string   `json:"scenario"`
	Title    string   `json:"title"`
	Settings []string `json:"settings"`
	Rows     []Row    `json:"rows"`
	Notes    []string `json:"notes,omitempty"`
}

// Row is one metric.
type Row struct {
	Metric string `json:"metric"`
	Ours   string `json:"ssmstate"`
	Theirs string `json:"awsstore"`
	Ratio  string `json:"ratio"`
	Limit  string `json:"limit"`
}

// Result is what a scenario returns.
type Result interface {
	Table() Table
}

// Scenario is a named scenario.
type Scenario struct {
	Name  string
	Title string
	Run   func(ctx context.Context, cfg Config) (Result, error)
}

// Scenarios lists every scenario in the order they run.
func Scenarios() []Scenario {
	return []Scenario{
		{"lifecycle", "Lifecycle of a node", func(ctx context.Context, c Config) (Result, error) { return Lifecycle(ctx, c) }},
		{"concurrent", "Concurrent writers", func(ctx context.Context, c Config) (Result, error) { return Concurrent(ctx, c) }},
		{"fleet-restart", "Fleet restart under the read quota", func(ctx context.Context, c Config) (Result, error) { return FleetRestart(ctx, c) }},
		{"fleet-login", "Fleet first login under the write quota", func(ctx context.Context, c Config) (Result, error) { return FleetLogin(ctx, c) }},
		{"size", "State size sweep", func(ctx context.Context, c Config) (Result, error) { return Size(ctx, c) }},
		{"cpu", "CPU and memory per operation", func(ctx context.Context, c Config) (Result, error) { return CPU(ctx, c) }},
	}
}

// ScenarioNames lists the scenario names.
func ScenarioNames() []string {
	var n []string
	for _, s := range Scenarios() {
		n = append(n, s.Name)
	}
	return n
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	i := slices.IndexFunc(Scenarios(), func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return Scenarios()[i], true
}

// Print writes t as an aligned text table.
func (t Table) Print(w io.Writer) {
	fmt.Fprintf(w, "== %s: %s\n", t.Scenario, t.Title)
	for _, s := range t.Settings {
		fmt.Fprintf(w, "   %s\n", s)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tssmstate\tawsstore\tratio\tlimit")
	for _, r := range t.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Metric, r.Ours, r.Theirs, r.Ratio, r.Limit)
	}
	tw.Flush()
	for _, n := range t.Notes {
		fmt.Fprintf(w, "   note: %s\n", n)
	}
	fmt.Fprintln(w)
}

// Markdown writes t as a Markdown table.
func (t Table) Markdown(w io.Writer) {
	fmt.Fprintf(w, "**%s** (`%s`). %s\n\n", t.Title, t.Scenario, strings.Join(t.Settings, "; "))
	fmt.Fprintln(w, "| metric | ssmstate | awsstore | ratio | limit |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|")
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.Metric, r.Ours, r.Theirs, r.Ratio, r.Limit)
	}
	for _, n := range t.Notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	fmt.Fprintln(w)
}

// ratio formats ours/theirs; "—" when it is undefined.
func ratio(ours, theirs float64) string {
	if theirs == 0 || ours < 0 || theirs < 0 {
		if ours == 0 && theirs == 0 {
			return "—"
		}
		return "—"
	}
	r := ours / theirs
	switch {
	case r >= 10:
		return fmt.Sprintf("%.0f×", r)
	case r >= 0.1:
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.3f×", r)
}

func num(n int) string { return fmt.Sprint(n) }

func secs(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func intRow(metric string, ours, theirs int, limit string) Row {
	return Row{metric, num(ours), num(theirs), ratio(float64(ours), float64(theirs)), limit}
}

func durRow(metric string, ours, theirs time.Duration, limit string) Row {
	return Row{metric, secs(ours), secs(theirs), ratio(float64(ours), float64(theirs)), limit}
}
