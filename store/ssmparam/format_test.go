package ssmparam

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestEncodeStateIsAwsstoreFormat(t *testing.T) {
	got, err := encodeState(map[string][]byte{"_machinekey": []byte("privkey:00"), "_current-profile": []byte("p1")})
	if err != nil {
		t.Fatal(err)
	}
	// What ipn/store/mem's ExportToJSON (awsstore's writer) produces.
	want := "{\n  \"_current-profile\": \"cDE=\",\n  \"_machinekey\": \"cHJpdmtleTowMA==\"\n}"
	if string(got) != want {
		t.Fatalf("encodeState = %q, want %q", got, want)
	}
	if empty, _ := encodeState(nil); string(empty) != "{}" {
		t.Fatalf("empty state encodes as %q, want {}", empty)
	}
}

func TestIsManifest(t *testing.T) {
	for in, want := range map[string]bool{
		`{}`:                             false,
		`{"ssmstate":"c3Nt"}`:            false, // a state with a key named ssmstate
		`{"ssmstate":1,"parts":2}`:       true,
		`not json`:                       false,
		`{"_machinekey":"cHJpdmtleQ=="}`: false,
	} {
		if got := isManifest([]byte(in)); got != want {
			t.Errorf("isManifest(%s) = %v, want %v", in, got, want)
		}
	}
}

func randomState(t *testing.T, size int) map[string][]byte {
	t.Helper()
	st := map[string][]byte{}
	for i := 0; size > 0; i++ {
		n := min(size, 4000)
		v := make([]byte, n)
		rand.Read(v)
		st["key-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+"-"+itoa(i)] = v
		size -= n
	}
	return st
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestSplitJoinRoundTrip(t *testing.T) {
	for _, adv := range []bool{false, true} {
		for _, size := range []int{0, 100, 5000, 100 << 10, 1 << 20} {
			encoded, err := encodeState(randomState(t, size))
			if err != nil {
				t.Fatal(err)
			}
			m, parts, err := split(encoded, 7, adv)
			if err != nil {
				t.Fatalf("split %d bytes: %v", size, err)
			}
			limit := StandardValueLimit
			if adv {
				limit = AdvancedValueLimit
			}
			chunks := make([][]byte, len(parts))
			for i, p := range parts {
				if len(p) > limit {
					t.Fatalf("part %d of %d-byte state is %d characters, over %d", i, size, len(p), limit)
				}
				if chunks[i], err = decodePart(m, i, p); err != nil {
					t.Fatalf("decodePart %d: %v", i, err)
				}
			}
			mb, _ := json.Marshal(m)
			if len(mb) > StandardValueLimit {
				t.Fatalf("manifest is %d bytes", len(mb))
			}
			if !isManifest(mb) {
				t.Fatalf("manifest %s not recognised", mb)
			}
			if _, err := parseManifest(mb); err != nil {
				t.Fatalf("parseManifest: %v", err)
			}
			got, err := join(m, chunks)
			if err != nil {
				t.Fatalf("join: %v", err)
			}
			if !bytes.Equal(got, encoded) {
				t.Fatalf("round trip of %d bytes differs", size)
			}
		}
	}
}

func TestCorruptPartsRejected(t *testing.T) {
	encoded, _ := encodeState(randomState(t, 20000))
	m, parts, err := split(encoded, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	other, otherParts, _ := split(encoded, 4, false)
	_ = other
	cases := map[string]struct {
		index int
		value string
		want  string
	}{
		"other generation": {0, otherParts[0], "generation 4"},
		"other position":   {0, parts[1], "part 1"},
		"flipped byte":     {0, flip(parts[0]), "checksum mismatch"},
		"no header":        {0, "aGVsbG8=", "header"},
		"too large":        {0, parts[0] + strings.Repeat("A", 200), "more than a part may hold"},
	}
	for name, c := range cases {
		_, err := decodePart(m, c.index, c.value)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: decodePart error = %v, want one containing %q", name, err, c.want)
		}
	}
}

func flip(part string) string {
	b := []byte(part)
	i := len(b) - 10
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestManifestChecks(t *testing.T) {
	good := manifest{Format: 1, Generation: 2, Compression: "zstd", Size: 10, SHA256: strings.Repeat("0", 64),
		StoredSize: 3000, StoredSHA256: strings.Repeat("0", 64), PartSize: standardChunk, Parts: 2}
	if err := good.check(); err != nil {
		t.Fatalf("good manifest rejected: %v", err)
	}
	for name, mut := range map[string]func(*manifest){
		"a million parts": func(m *manifest) { m.Parts = 1000000; m.StoredSize = int64(standardChunk) * 1000000 },
		"newer format":    func(m *manifest) { m.Format = 2 },
		"other codec":     func(m *manifest) { m.Compression = "gzip" },
		"huge state":      func(m *manifest) { m.Size = 1 << 40 },
		"parts/size":      func(m *manifest) { m.Parts = 5 },
		"odd part size":   func(m *manifest) { m.PartSize = 100 },
		"bad checksum":    func(m *manifest) { m.SHA256 = "zz" },
		"generation zero": func(m *manifest) { m.Generation = 0 },
	} {
		m := good
		mut(&m)
		if err := m.check(); err == nil {
			t.Errorf("%s: manifest accepted", name)
		}
	}
	if _, err := parseManifest([]byte(`{"ssmstate":1,"parts":2,"partNames":["/elsewhere"]}`)); err == nil {
		t.Errorf("manifest with unknown field (part names pointing elsewhere) accepted")
	}
}

func TestDecompressionBombRejected(t *testing.T) {
	// 64 MiB of zeros compresses to a few KB; the manifest claims 100 bytes.
	enc, _ := zstd.NewWriter(nil)
	blob := enc.EncodeAll(make([]byte, 64<<20), nil)
	enc.Close()
	encoded := []byte(`{}`)
	m, _, err := split(encoded, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	m.Size = 100
	_, parts, _ := split(encoded, 1, false)
	_ = parts
	m.StoredSize = int64(len(blob))
	m.Parts = (len(blob) + standardChunk - 1) / standardChunk
	var chunks [][]byte
	for b := blob; len(b) > 0; {
		n := min(len(b), standardChunk)
		chunks = append(chunks, b[:n])
		b = b[n:]
	}
	m.StoredSHA256 = sha256Hex(blob)
	_, err = join(m, chunks)
	if err == nil || !strings.Contains(err.Error(), "more or fewer") {
		t.Fatalf("join of a bomb: %v, want a size error", err)
	}
}
