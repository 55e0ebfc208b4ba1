/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * privs.h: who otagw runs as.
 *
 * privs_check_dir says, before anything is opened, whether the state
 * directory is usable by the user otagw runs as, naming its owner and
 * mode when it is not.  privs_drop, once every listener is bound and the
 * store open, gives the state directory to the configured user and
 * becomes that user for good; without a user (or when not started as
 * root) it changes nothing.  Both return 0, or -1 with the reason logged.
 */
#ifndef OTAGW_PRIVS_H
#define OTAGW_PRIVS_H

int	 privs_check_dir(const char *dir);
int	 privs_drop(const char *user, const char *state_dir);

#endif
