package tsstate

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"tailscale.com/ipn"
	tsstore "tailscale.com/ipn/store"
	"tailscale.com/types/logger"

	"github.com/ssmstate/ssmstate/store"
)

// RegistryPrefix is the prefix under which Register makes this package
// known to Tailscale's store registry: `--state=ssmstate:<locator>`, e.g.
// ssmstate:arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod.
//
// It is not "arn:" because Tailscale's own awsstore registers "arn:" in
// tailscaled builds (tailscale.com/feature/condregister on Linux), and the
// registry panics on a prefix registered twice.
const RegistryPrefix = "ssmstate:"

var registerOnce sync.Once

// Register adds RegistryPrefix to Tailscale's store registry
// (tailscale.com/ipn/store), so that a program which builds its state store
// from a string through store.New — a tailscaled built with this package
// linked in, for one — accepts ssmstate:<locator>. It is safe to call more
// than once. Programs that construct their own tsnet.Server need not
// register: set Server.Store to what New returns.
//
// Stores made through the registry are never closed (the registry has no
// Close); that is fine for one store that lives as long as the process.
// Store logs go to the registry's logf.
func Register() {
	registerOnce.Do(func() {
		tsstore.Register(RegistryPrefix, provide)
	})
}

func provide(logf logger.Logf, arg string) (ipn.StateStore, error) {
	loc := strings.TrimPrefix(arg, RegistryPrefix)
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(logger.FuncWriter(logf), nil))
	return New(ctx, loc, WithStoreOptions(store.WithLogger(log)))
}
