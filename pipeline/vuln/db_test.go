package vuln_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-movie-service/sms/pipeline/vuln"
)

func TestBuildDB(t *testing.T) {
	osv := t.TempDir()
	mustEntry(t, osv, idCalled, "vulnlib", "Parse", "2099-01-02T03:04:05Z")
	mustEntry(t, osv, idRequired, "vulnlib/unused", "Boom", "2098-06-01T00:00:00Z")
	cache := t.TempDir()
	snap := vuln.Snapshot{Version: "v0.0.0-20990102030405-abcdefabcdef", OSVDir: osv}
	db, err := vuln.BuildDB(snap, cache)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, snap.Version)
	if db.URI != "file://"+filepath.ToSlash(dir) || db.Version != snap.Version || !db.Modified.Equal(time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("db %+v", db)
	}
	t.Run("layout", func(t *testing.T) {
		var meta struct{ Modified time.Time }
		mustJSON(t, filepath.Join(dir, "index", "db.json"), &meta)
		var modules []struct {
			Path  string
			Vulns []struct{ ID, Fixed string }
		}
		mustJSON(t, filepath.Join(dir, "index", "modules.json"), &modules)
		var vulns []struct {
			ID      string
			Aliases []string
		}
		mustJSON(t, filepath.Join(dir, "index", "vulns.json"), &vulns)
		if !meta.Modified.Equal(db.Modified) || len(modules) != 1 || modules[0].Path != libModule || len(modules[0].Vulns) != 2 ||
			modules[0].Vulns[0].Fixed != "1.0.1" || len(vulns) != 2 || vulns[0].ID != idCalled || vulns[0].Aliases[0] != "CVE-2099-0001" {
			t.Fatalf("indexes: %+v %+v %+v", meta, modules, vulns)
		}
		want, _ := os.ReadFile(filepath.Join(osv, idCalled+".json"))
		got, err := os.ReadFile(filepath.Join(dir, "ID", idCalled+".json"))
		if err != nil || string(got) != string(want) {
			t.Fatalf("ID/%s.json: %v", idCalled, err)
		}
	})
	t.Run("a complete layout is reused", func(t *testing.T) {
		mustEntry(t, osv, "GO-2099-0009", "vulnlib", "Later", "2099-02-01T00:00:00Z")
		again, err := vuln.BuildDB(snap, cache)
		if err != nil || *again != *db {
			t.Fatalf("rebuilt: %+v %v", again, err)
		}
		entries, _ := os.ReadDir(cache)
		if len(entries) != 1 {
			t.Fatalf("temporary directories left behind: %v", entries)
		}
	})
	t.Run("an entry whose name is not its id is refused", func(t *testing.T) {
		bad := t.TempDir()
		mustEntry(t, bad, idCalled, "vulnlib", "Parse", "2099-01-02T03:04:05Z")
		if err := os.Rename(filepath.Join(bad, idCalled+".json"), filepath.Join(bad, "GO-2099-0007.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := vuln.BuildDB(vuln.Snapshot{Version: "v1.0.0", OSVDir: bad}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("entries without dates take the snapshot's commit time", func(t *testing.T) {
		undated := t.TempDir()
		mustEntry(t, undated, idCalled, "vulnlib", "Parse", "0001-01-01T00:00:00Z")
		cut := time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)
		db, err := vuln.BuildDB(vuln.Snapshot{Version: "v0.0.0-20261105234957-e22db6528018", OSVDir: undated, Time: cut}, t.TempDir())
		if err != nil || !db.Modified.Equal(cut) {
			t.Fatalf("%+v %v", db, err)
		}
		if _, err := vuln.BuildDB(vuln.Snapshot{Version: "v1.0.0", OSVDir: undated}, t.TempDir()); err == nil {
			t.Fatal("a database without any date was built")
		}
	})
	t.Run("an unsafe version is refused", func(t *testing.T) {
		if _, err := vuln.BuildDB(vuln.Snapshot{Version: "../x", OSVDir: osv}, t.TempDir()); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("OpenDB reads a file database's date", func(t *testing.T) {
		live, err := vuln.OpenDB(t.Context(), db.URI)
		if err != nil || !live.Modified.Equal(db.Modified) || live.Version != "live" {
			t.Fatalf("%+v %v", live, err)
		}
	})
}

func TestOpenDBOverHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/index/db.json" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"modified":"2026-11-05T23:49:57Z"}`))
	}))
	defer srv.Close()
	db, err := vuln.OpenDB(t.Context(), srv.URL+"/")
	if err != nil || db.URI != srv.URL || db.Modified.Format(time.RFC3339) != "2026-11-05T23:49:57Z" {
		t.Fatalf("%+v %v", db, err)
	}
	if _, err := vuln.OpenDB(t.Context(), srv.URL+"/missing"); err == nil {
		t.Fatal("a database without index/db.json opened")
	}
	if _, err := vuln.OpenDB(t.Context(), "ftp://example.com/db"); err == nil {
		t.Fatal("ftp accepted")
	}
}

// TestPinnedSnapshot reads the version this repository pins and finds its entries where
// the go command put the checksum-verified module.
func TestPinnedSnapshot(t *testing.T) {
	s, err := vuln.PinnedSnapshot(t.Context(), "../..")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Version, "v0.0.0-") || s.Time.IsZero() || s.Time.Format("20060102150405") != strings.Split(s.Version, "-")[1] {
		t.Fatalf("version %q at %v", s.Version, s.Time)
	}
	if _, err := os.Stat(filepath.Join(s.OSVDir, "GO-2020-0001.json")); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
