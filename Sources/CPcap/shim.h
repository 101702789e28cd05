#include <pcap/pcap.h>
/* __fsetlocking: a capture stream used by one thread needs no stdio locking per record. */
#include <stdio_ext.h>
