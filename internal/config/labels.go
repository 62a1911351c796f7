package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/platform/private-run-api/internal/diag"
)

// The labels key: what goes on every resource that takes labels.

var (
	labelKeyRe = regexp.MustCompile(`^[a-z][-a-z0-9_]{0,62}$`)
	labelValRe = regexp.MustCompile(`^[-a-z0-9_]{0,63}$`)
)

func validateLabels(ps *problems, labels map[string]string) {
	if len(labels) > 64 {
		ps.Add(diag.TooMany, diag.NewPath(KeyLabels), fmt.Sprint(len(labels)), "has more than 64 labels", "keep at most 64")
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if !labelKeyRe.MatchString(k) {
			ps.Add(diag.Invalid, diag.NewPath(KeyLabels).Child(k), "", `is not a label key (1-63 chars of a-z, 0-9, "-" and "_", starting with a letter)`, "rename the key")
		}
		if v := labels[k]; !labelValRe.MatchString(v) {
			ps.Add(diag.Invalid, diag.NewPath(KeyLabels).Child(k), v, `is not a label value (0-63 chars of a-z, 0-9, "-" and "_")`, "write it in lower case, without spaces")
		}
	}
}
