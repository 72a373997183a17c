package ssmparam

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/store"
	"github.com/ssmstate/ssmstate/storeerr"
)

// Importing this package makes store.Open handle SSM parameter ARNs.
func init() {
	store.RegisterBackend(locator.KindSSM, Open)
}

var _ store.Backend = (*Backend)(nil)

// Open is the store.BackendOpener for SSM locators: the Region comes from
// the ARN; credentials from cfg.AWSConfig when set, else from
// aws-sdk-go-v2's default chain (which also honours AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_SSM); cfg.Endpoint, when set, overrides the endpoint.
func Open(ctx context.Context, loc locator.Locator, cfg store.Config) (store.Backend, error) {
	var awsCfg aws.Config
	if cfg.AWSConfig != nil {
		awsCfg = cfg.AWSConfig.Copy()
		awsCfg.Region = loc.Region
	} else {
		var err error
		if awsCfg, err = config.LoadDefaultConfig(ctx, config.WithRegion(loc.Region)); err != nil {
			return nil, fmt.Errorf("load AWS configuration for %s: %w", loc.ParameterARN(), err)
		}
	}
	if cfg.Endpoint != "" {
		awsCfg.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	var keys storeerr.KeyDescriber
	if loc.KMSKey != "" {
		keys = newKeyClient(awsCfg)
	}
	if err := checkKey(ctx, keys, loc, cfg.Timeout); err != nil {
		return nil, err
	}
	return NewFromConfig(ctx, awsCfg, Config{
		Keys:          keys,
		ParameterName: loc.ParameterName,
		ParameterARN:  loc.ParameterARN(),
		KMSKey:        loc.KMSKey,
		Advanced:      loc.Advanced,
		Logger:        cfg.Logger,
		Reset:         cfg.Reset,
		Timeout:       cfg.Timeout,
	})
}
