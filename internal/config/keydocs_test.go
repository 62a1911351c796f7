package config

import (
	"slices"
	"strings"
	"testing"
)

// Every key the program reads has a row in KeyDocs, and every row is about a key it reads, with
// a meaning and a default fit for one table cell.
func TestKeyDocsCoverEveryKey(t *testing.T) {
	want := append([]string{KeyGCPProject, KeyGCPRegion}, Keys...)
	rows := map[string]int{}
	for _, d := range KeyDocs {
		rows[d.Key]++
		if !slices.Contains(want, d.Key) {
			t.Errorf("KeyDocs documents %q, which the program does not read (it reads %s)", d.Key, strings.Join(want, ", "))
		}
		for what, text := range map[string]string{"meaning": d.Meaning, "default": d.Default} {
			if strings.TrimSpace(text) == "" || strings.ContainsAny(text, "\n") {
				t.Errorf("KeyDocs %s %s: %q: write one line of Markdown", d.Key, what, text)
			}
		}
		if rows[d.Key] > 1 && d.Part == "" {
			t.Errorf("KeyDocs has a second row for %s without a Part saying what it is about", d.Key)
		}
	}
	for _, k := range want {
		if rows[k] == 0 {
			t.Errorf("config key %s has no row in KeyDocs: add what it means and its default (README.md's table is generated from them)", k)
		}
	}
}
