package guard_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

type readmeBlock struct {
	line int // README.md line of the block's first code line
	code string
}

// goBlocks returns the ```go fenced blocks of a Markdown text.
func goBlocks(md string) []readmeBlock {
	var blocks []readmeBlock
	var cur *readmeBlock
	var body strings.Builder
	for i, line := range strings.Split(md, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &readmeBlock{line: i + 2}
			body.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.code = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		}
	}
	return blocks
}

// TestREADMECodeCompiles builds every ```go block of README.md as a package
// of this module, so an example cannot drift from the API it shows. The
// blocks reach the compiler through an overlay; nothing is written into the
// source tree.
func TestREADMECodeCompiles(t *testing.T) {
	md, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlocks(string(md))
	if len(blocks) < 2 {
		t.Fatalf("found %d ```go blocks in README.md, want at least 2; has the fence syntax changed?", len(blocks))
	}
	var files []exampleFile
	for _, b := range blocks {
		if !strings.HasPrefix(b.code, "package ") {
			t.Errorf("README.md:%d: a ```go block must be a whole file starting with its package clause, so that it can be compiled", b.line)
			continue
		}
		files = append(files, exampleFile{readme: "README.md", line: b.line, code: b.code})
	}
	compileExamples(t, files)
}

// exampleFile is one Go file made from a README; line is the README line of
// the file's first line (which may lie before the block when a header was
// added).
type exampleFile struct {
	readme string
	line   int
	code   string
}

// compileExamples builds each file as its own package of this module, and
// reports compiler messages at the README lines they are about.
func compileExamples(t *testing.T, files []exampleFile) {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("compiling README examples needs the go command on PATH: %v", err)
	}
	moduleDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	replace := map[string]string{}
	var pkgs []string
	origin := map[string]exampleFile{} // temp file name -> where it came from
	for i, f := range files {
		name := fmt.Sprintf("readme_block%d.go", i)
		src := filepath.Join(tmp, name)
		if err := os.WriteFile(src, []byte(f.code), 0o600); err != nil {
			t.Fatal(err)
		}
		dir := fmt.Sprintf("internal/readmeblock%d", i)
		replace[filepath.Join(moduleDir, dir, "example.go")] = src
		pkgs = append(pkgs, "./"+dir)
		origin[name] = f
	}
	if len(pkgs) == 0 {
		return
	}
	overlay, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		t.Fatal(err)
	}
	overlayPath := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayPath, overlay, 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(goCmd, append([]string{"build", "-overlay", overlayPath, "-o", os.DevNull}, pkgs...)...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		// Point compiler messages at README lines rather than temp files.
		pos := regexp.MustCompile(`\S*(readme_block\d+\.go):(\d+)`)
		msg := pos.ReplaceAllStringFunc(string(out), func(m string) string {
			sub := pos.FindStringSubmatch(m)
			n, _ := strconv.Atoi(sub[2])
			f := origin[sub[1]]
			return fmt.Sprintf("%s:%d", f.readme, f.line+n-1)
		})
		t.Errorf("README Go examples do not compile (%v):\n%s", err, msg)
	}
}
