#ifndef CBOSUN_SYSTEMD_SHIM_H
#define CBOSUN_SYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#endif
