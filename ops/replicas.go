package ops

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/storeerr"
)

// Replica status values.
const (
	// ReplicaInSync: the copy in that Region holds exactly this state.
	ReplicaInSync = "in-sync"
	// ReplicaDiffers: the copy holds another state (older, or written there).
	ReplicaDiffers = "differs"
	// ReplicaAbsent: no state under that parameter name in that Region.
	ReplicaAbsent = "absent"
	// ReplicaUnreadable: the copy could not be read (see Error).
	ReplicaUnreadable = "unreadable"
)

// ReplicaInfo is the state's copy in another Region of its multi-Region key.
type ReplicaInfo struct {
	Region  string `json:"region"`
	Locator string `json:"locator"`
	Status  string `json:"status"`
	Keys    int    `json:"keys"`
	// Diff says how the copy differs, by key name (ReplicaDiffers).
	Diff string `json:"diff,omitempty"`
	// Error is why the copy could not be read (ReplicaUnreadable).
	Error string `json:"error,omitempty"`
	// Fix is what to do, when anything.
	Fix string `json:"fix,omitempty"`
}

// Replicas compares the state loc names with its copies (as `ssmstate
// replicate` makes them: same parameter name, under the key's replica) in
// every other Region of the locator's multi-Region key (the primary's and
// the replicas' Regions). state is loc's state, already read by the caller
// (nil to read it); key is the locator's key metadata. For a single-Region
// key it returns nil.
func Replicas(ctx context.Context, loc string, state map[string][]byte, key *kmstypes.KeyMetadata, o Options) ([]ReplicaInfo, error) {
	l, err := ssmLocator(loc, "replica check")
	if err != nil {
		return nil, err
	}
	if key == nil || !aws.ToBool(key.MultiRegion) || key.MultiRegionConfiguration == nil {
		return nil, nil
	}
	if state == nil {
		if state, err = ReadAll(ctx, loc, o); err != nil {
			return nil, err
		}
	}
	mc := key.MultiRegionConfiguration
	var regions []string
	if mc.PrimaryKey != nil {
		regions = append(regions, aws.ToString(mc.PrimaryKey.Region))
	}
	for _, r := range mc.ReplicaKeys {
		regions = append(regions, aws.ToString(r.Region))
	}
	slices.Sort(regions)
	regions = slices.Compact(regions)
	var out []ReplicaInfo
	for _, region := range regions {
		if region == l.Region || region == "" {
			continue
		}
		out = append(out, compareReplica(ctx, l, region, aws.ToString(key.KeyId), state, o))
	}
	return out, nil
}

func compareReplica(ctx context.Context, l locator.Locator, region, keyID string, state map[string][]byte, o Options) ReplicaInfo {
	dst := l
	dst.Region, dst.KMSKey = region, ""
	dst, err := WithKey(dst, fmt.Sprintf("arn:%s:kms:%s:%s:key/%s", l.Partition, region, l.Account, keyID))
	ri := ReplicaInfo{Region: region, Locator: dst.String()}
	if err != nil {
		ri.Status, ri.Error = ReplicaUnreadable, err.Error()
		return ri
	}
	refresh := fmt.Sprintf("ssmstate replicate '%s' --to-region %s --force", l.String(), region)
	got, err := ReadAll(ctx, dst.String(), o)
	if err != nil {
		ri.Status, ri.Error = ReplicaUnreadable, err.Error()
		if kind := storeerr.KindOf(err); kind != "" {
			ri.Error = string(kind) + ": " + err.Error()
		}
		ri.Fix = "check the rights and the key replica in " + region + ", then refresh the copy with: " + refresh
		return ri
	}
	ri.Keys = len(got)
	switch d := diffStates(state, got); {
	case len(got) == 0:
		ri.Status = ReplicaAbsent
		ri.Fix = "make a copy for recovery in " + region + " with: " + refresh
	case d != "":
		ri.Status, ri.Diff = ReplicaDiffers, d
		ri.Fix = "refresh the copy with: " + refresh
	default:
		ri.Status = ReplicaInSync
	}
	return ri
}
