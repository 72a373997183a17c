package ssmemu

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
	"github.com/ssmstate/ssmstate/emulator/internal/persist"
)

// parameterOut is the Parameter shape of GetParameter and friends.
type parameterOut struct {
	Name             string `json:"Name"`
	Type             string `json:"Type"`
	Value            string `json:"Value"`
	Version          int64  `json:"Version"`
	Selector         string `json:"Selector,omitempty"`
	LastModifiedDate epoch  `json:"LastModifiedDate"`
	ARN              string `json:"ARN"`
	DataType         string `json:"DataType"`
}

func (s *Service) parameterOut(r *awsapi.Request, rec *record, v *version, sel selector, decrypt bool) (parameterOut, error) {
	arn := parameterARN(r, rec.Name)
	val, err := s.shownValue(r, arn, v, decrypt)
	if err != nil {
		return parameterOut{}, err
	}
	return parameterOut{
		Name: rec.Name, Type: v.Type, Value: val, Version: v.Version, Selector: sel.raw,
		LastModifiedDate: epoch(v.LastModified), ARN: arn, DataType: v.DataType,
	}, nil
}

type getInput struct {
	Name           string `json:"Name"`
	WithDecryption bool   `json:"WithDecryption"`
}

func (s *Service) getParameter(r *awsapi.Request, body []byte) (any, []string, error) {
	var in getInput
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	sel, err := parseSelector(r, in.Name)
	if err != nil {
		return nil, nil, err
	}
	arn := parameterARN(r, sel.name)
	res := []string{arn}
	if err := s.authorize(r, "GetParameter", arn); err != nil {
		return nil, res, err
	}
	rec, err := s.view(r.Region, canonical(sel.name))
	if err != nil {
		return nil, res, err
	}
	if rec == nil {
		return nil, res, errParameterNotFound()
	}
	v, err := rec.find(sel)
	if err != nil {
		return nil, res, err
	}
	p, err := s.parameterOut(r, rec, v, sel, in.WithDecryption)
	if err != nil {
		return nil, res, err
	}
	return map[string]any{"Parameter": p}, res, nil
}

type getManyInput struct {
	Names          []string `json:"Names"`
	WithDecryption bool     `json:"WithDecryption"`
}

func (s *Service) getParameters(r *awsapi.Request, body []byte) (any, []string, error) {
	var in getManyInput
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	if len(in.Names) == 0 || len(in.Names) > 10 {
		return nil, nil, errValidation("1 validation error detected: Value '[%s]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10, Member must have length greater than or equal to 1", strings.Join(in.Names, ", "))
	}
	params := []parameterOut{}
	invalid := []string{}
	var res []string
	seen := map[string]bool{}
	for _, name := range in.Names {
		if seen[name] {
			continue
		}
		seen[name] = true
		sel, err := parseSelector(r, name)
		if err != nil {
			if ae, ok := err.(*awsapi.Error); ok && ae.Code == "ParameterNotFound" {
				invalid = append(invalid, name)
				continue
			}
			return nil, res, err
		}
		arn := parameterARN(r, sel.name)
		res = append(res, arn)
		if err := s.authorize(r, "GetParameters", arn); err != nil {
			return nil, res, err
		}
		rec, err := s.view(r.Region, canonical(sel.name))
		if err != nil {
			return nil, res, err
		}
		if rec == nil {
			invalid = append(invalid, name)
			continue
		}
		v, err := rec.find(sel)
		if err != nil {
			invalid = append(invalid, name)
			continue
		}
		p, err := s.parameterOut(r, rec, v, sel, in.WithDecryption)
		if err != nil {
			return nil, res, err
		}
		params = append(params, p)
	}
	return map[string]any{"Parameters": params, "InvalidParameters": invalid}, res, nil
}

type filter struct {
	Key    string   `json:"Key"`
	Option string   `json:"Option"`
	Values []string `json:"Values"`
}

type byPathInput struct {
	Path             string   `json:"Path"`
	Recursive        bool     `json:"Recursive"`
	ParameterFilters []filter `json:"ParameterFilters"`
	WithDecryption   bool     `json:"WithDecryption"`
	MaxResults       *int     `json:"MaxResults"`
	NextToken        string   `json:"NextToken"`
}

func (s *Service) getParametersByPath(r *awsapi.Request, body []byte) (any, []string, error) {
	var in byPathInput
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	path := in.Path
	if path != "/" {
		path = strings.TrimSuffix(path, "/")
	}
	if !strings.HasPrefix(path, "/") {
		return nil, nil, errValidation("%s", msgNameRules)
	}
	if path != "/" {
		if err := validateLookupName(path); err != nil {
			return nil, nil, err
		}
	}
	max, err := maxResults(in.MaxResults, 10, 10)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range in.ParameterFilters {
		switch {
		case f.Key == "Type", f.Key == "KeyId", f.Key == "Label", f.Key == "Tier", f.Key == "DataType", strings.HasPrefix(f.Key, "tag:"):
		default:
			return nil, nil, awsapi.Errorf("InvalidFilterKey", "The following filter key is not valid: %s. Valid filter keys include: [Type, KeyId, Label, Tier, DataType, tag].", f.Key)
		}
	}
	if err := s.authorize(r, "GetParametersByPath", parameterARN(r, path)); err != nil {
		return nil, nil, err
	}
	prefix := path + "/"
	if path == "/" {
		prefix = "/"
	}
	recs, err := s.all(r.Region)
	if err != nil {
		return nil, nil, err
	}
	var match []*record
	for _, rec := range recs {
		c := canonical(rec.Name)
		if !strings.HasPrefix(c, prefix) || (!in.Recursive && strings.Contains(c[len(prefix):], "/")) {
			continue
		}
		ok, err := matchFilters(rec, in.ParameterFilters)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			match = append(match, rec)
		}
	}
	page, next, err := paginate(match, in.NextToken, max)
	if err != nil {
		return nil, nil, err
	}
	out := []parameterOut{}
	var res []string
	for _, rec := range page {
		p, err := s.parameterOut(r, rec, rec.latest(), selector{}, in.WithDecryption)
		if err != nil {
			return nil, res, err
		}
		res = append(res, p.ARN)
		out = append(out, p)
	}
	resp := map[string]any{"Parameters": out}
	if next != "" {
		resp["NextToken"] = next
	}
	return resp, res, nil
}

// maxResults checks a MaxResults against 1..limit and applies the default.
func maxResults(v *int, def, limit int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < 1 || *v > limit {
		return 0, errValidation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to %d", *v, limit)
	}
	return *v, nil
}

// paginate returns the page of items after the token and the next token.
// A token is the opaque base64 of the offset of the next item.
func paginate[T any](items []T, token string, max int) ([]T, string, error) {
	start := 0
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "o:") || n < 0 || n > len(items) {
			return nil, "", awsapi.Errorf("InvalidNextToken", "The specified token is not valid.")
		}
		start = n
	}
	end := min(start+max, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}

func (s *Service) deleteParameter(r *awsapi.Request, body []byte) (any, []string, error) {
	var in struct {
		Name string `json:"Name"`
	}
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	if err := validateLookupName(in.Name); err != nil {
		return nil, nil, err
	}
	arn := parameterARN(r, in.Name)
	res := []string{arn}
	if err := s.authorize(r, "DeleteParameter", arn); err != nil {
		return nil, res, err
	}
	err := s.db.Update(func(tx persist.Tx) error {
		if tx.Get(bucket(r.Region), canonical(in.Name)) == nil {
			return errParameterNotFound()
		}
		return tx.Delete(bucket(r.Region), canonical(in.Name))
	})
	return struct{}{}, res, err
}

func (s *Service) deleteParameters(r *awsapi.Request, body []byte) (any, []string, error) {
	var in struct {
		Names []string `json:"Names"`
	}
	if err := decode(body, &in); err != nil {
		return nil, nil, err
	}
	if len(in.Names) == 0 || len(in.Names) > 10 {
		return nil, nil, errValidation("1 validation error detected: Value '[%s]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10, Member must have length greater than or equal to 1", strings.Join(in.Names, ", "))
	}
	var res []string
	for _, n := range in.Names {
		if err := validateLookupName(n); err != nil {
			return nil, nil, err
		}
		res = append(res, parameterARN(r, n))
		if err := s.authorize(r, "DeleteParameters", parameterARN(r, n)); err != nil {
			return nil, res, err
		}
	}
	deleted, invalid := []string{}, []string{}
	err := s.db.Update(func(tx persist.Tx) error {
		deleted, invalid = deleted[:0], invalid[:0]
		for _, n := range in.Names {
			if tx.Get(bucket(r.Region), canonical(n)) == nil {
				invalid = append(invalid, n)
				continue
			}
			if err := tx.Delete(bucket(r.Region), canonical(n)); err != nil {
				return err
			}
			deleted = append(deleted, n)
		}
		return nil
	})
	if err != nil {
		return nil, res, err
	}
	return map[string]any{"DeletedParameters": deleted, "InvalidParameters": invalid}, res, nil
}
