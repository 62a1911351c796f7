// Package linediff shows how two short lists of lines differ, for test failures that compare a
// sample written in a document (README.md or a page under docs/) with what the code really prints.
package linediff

import (
	"fmt"
	"strings"
)

// Show shows how want (the document's lines, whose first is line first of the document)
// differs from got (the code's output): lines both share are indented, "-" lines are the
// document's, with their line numbers, "+" lines the code's.
func Show(first int, want, got []string) string {
	// Longest common subsequence; samples are a few dozen lines, so quadratic is fine.
	lcs := make([][]int, len(want)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(got)+1)
	}
	for i := len(want) - 1; i >= 0; i-- {
		for j := len(got) - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case i < len(want) && j < len(got) && want[i] == got[j]:
			fmt.Fprintf(&b, "       %s\n", want[i])
			i, j = i+1, j+1
		case j < len(got) && (i == len(want) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&b, "     + %s\n", got[j])
			j++
		default:
			fmt.Fprintf(&b, "%4d - %s\n", first+i, want[i])
			i++
		}
	}
	return b.String()
}
