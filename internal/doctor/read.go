package doctor

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// maxCredentialsSize caps what the doctor reads from a credentials file. Real ones are a few
// kilobytes; anything bigger is not one, and reading it whole would only cost memory.
const maxCredentialsSize = 1 << 20

// errTooLarge and errNotRegular say why a credentials file was refused.
var (
	errTooLarge   = fmt.Errorf("larger than %d bytes (1 MiB), so it is not a credentials file", maxCredentialsSize)
	errNotRegular = errors.New("not a regular file")
)

// readCredentials reads a credentials file the doctor's way: regular files only, at most 1 MiB.
// A FIFO or a device at that path would block os.ReadFile forever (Go's own libraries do hang
// on it); the doctor must say so instead. The file is opened non-blocking where the platform
// has FIFOs, so that even a file swapped for a FIFO after the Stat cannot hang the open, and the
// type is checked again on the open file.
func readCredentials(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", shown(path), errNotRegular, fileKind(st.Mode()))
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlocking, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", shown(path), errNotRegular, fileKind(st.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCredentialsSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCredentialsSize {
		return nil, fmt.Errorf("%s: %w", shown(path), errTooLarge)
	}
	return data, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	default:
		return "mode " + m.String()
	}
}
