package ssmemu

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
	"github.com/ssmstate/ssmstate/emulator/internal/persist"
)

// maxVersions is how many versions Parameter Store keeps of a parameter.
const maxVersions = 100

// record is one parameter with its kept versions, stored as JSON under the
// key canonical(name) in the Region's bucket.
type record struct {
	Name     string            `json:"name"` // as given when created
	Versions []version         `json:"versions"`
	Tags     map[string]string `json:"tags,omitempty"`
}

// version is one version of a parameter. A SecureString keeps only Cipher:
// for the Standard tier the KMS ciphertext blob of the value, for Advanced an
// envelope (see envelope.go); Value is empty.
type version struct {
	Version          int64     `json:"version"`
	Type             string    `json:"type"`
	Value            string    `json:"value,omitempty"`
	Cipher           []byte    `json:"cipher,omitempty"`
	KeyID            string    `json:"keyId,omitempty"`  // as AWS shows it: alias/aws/ssm or the reference given
	KeyARN           string    `json:"keyArn,omitempty"` // the key that encrypted it
	Tier             string    `json:"tier"`
	Description      string    `json:"description,omitempty"`
	AllowedPattern   string    `json:"allowedPattern,omitempty"`
	DataType         string    `json:"dataType"`
	Labels           []string  `json:"labels,omitempty"`
	LastModified     time.Time `json:"lastModified"`
	LastModifiedUser string    `json:"lastModifiedUser"`
}

func (rec *record) latest() *version { return &rec.Versions[len(rec.Versions)-1] }

// find returns the version a selector names, or the latest one.
func (rec *record) find(sel selector) (*version, error) {
	switch {
	case sel.version > 0:
		for i := range rec.Versions {
			if rec.Versions[i].Version == sel.version {
				return &rec.Versions[i], nil
			}
		}
		return nil, awsapi.Errorf("ParameterVersionNotFound", "Systems Manager could not find version %d of %s. Verify the version and try again.", sel.version, sel.name)
	case sel.label != "":
		for i := range rec.Versions {
			for _, l := range rec.Versions[i].Labels {
				if l == sel.label {
					return &rec.Versions[i], nil
				}
			}
		}
		return nil, errParameterNotFound()
	}
	return rec.latest(), nil
}

func bucket(region string) string { return "ssm/" + region + "/parameters" }

func loadRecord(tx persist.Tx, region, canon string) (*record, error) {
	b := tx.Get(bucket(region), canon)
	if b == nil {
		return nil, nil
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("decode parameter %q in %s: %w", canon, region, err)
	}
	return &rec, nil
}

func saveRecord(tx persist.Tx, region, canon string, rec *record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Put(bucket(region), canon, b)
}

// view loads one parameter (nil if absent).
func (s *Service) view(region, canon string) (*record, error) {
	var rec *record
	err := s.db.View(func(tx persist.Tx) error {
		var err error
		rec, err = loadRecord(tx, region, canon)
		return err
	})
	return rec, err
}

// all loads every parameter of a Region in key order.
func (s *Service) all(region string) ([]*record, error) {
	var out []*record
	err := s.db.View(func(tx persist.Tx) error {
		return tx.ForEach(bucket(region), func(k string, v []byte) error {
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode parameter %q in %s: %w", k, region, err)
			}
			out = append(out, &rec)
			return nil
		})
	})
	return out, err
}

// epoch is a timestamp as the AWS JSON protocol sends it: seconds since the
// epoch as a number with a fractional part.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(fmt.Sprintf("%d.%03d", ms/1000, ms%1000)), nil
}
