//go:build unix

package doctor

import "syscall"

// openNonBlocking keeps open(2) from waiting for a writer when the path is a FIFO.
const openNonBlocking = syscall.O_NONBLOCK
