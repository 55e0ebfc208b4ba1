/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * t.h: a tiny table-friendly unit test harness, header only.
 *
 *   T_CHECK(cond)            records a failure with file:line when false
 *   T_EQ_INT(a, b)           integers, printing both on failure
 *   T_EQ_STR(a, b)           strings (NULL-safe)
 *   T_RUN(fn)                runs one test function
 *   return t_done();         prints "N passed, N failed", exit status
 *
 * Every check counts as one test; a test program's last line is its
 * summary, which quickstart.sh adds up across the whole suite.
 */
#ifndef OTAGW_T_H
#define OTAGW_T_H

#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define T_CHECK(cond) do {						\
	if (cond)							\
		t_pass++;						\
	else {								\
		t_fail++;						\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
	}								\
} while (0)

#define T_EQ_INT(a, b) do {						\
	long long t_a_ = (long long)(a), t_b_ = (long long)(b);	\
	if (t_a_ == t_b_)						\
		t_pass++;						\
	else {								\
		t_fail++;						\
		fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
		    __FILE__, __LINE__, #a, t_a_, #b, t_b_);		\
	}								\
} while (0)

#define T_EQ_STR(a, b) do {						\
	const char *t_a_ = (a), *t_b_ = (b);				\
	if ((t_a_ == NULL && t_b_ == NULL) ||				\
	    (t_a_ != NULL && t_b_ != NULL && strcmp(t_a_, t_b_) == 0))	\
		t_pass++;						\
	else {								\
		t_fail++;						\
		fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
		    __FILE__, __LINE__, #a, t_a_ ? t_a_ : "(null)",	\
		    t_b_ ? t_b_ : "(null)");				\
	}								\
} while (0)

/* a begins with the string b */
#define T_EQ_STR_PREFIX(a, b) do {					\
	const char *t_a_ = (a), *t_b_ = (b);				\
	if (t_a_ != NULL && strncmp(t_a_, t_b_, strlen(t_b_)) == 0)	\
		t_pass++;						\
	else {								\
		t_fail++;						\
		fprintf(stderr, "%s:%d: %s == \"%s\", expected it to "	\
		    "begin with \"%s\"\n", __FILE__, __LINE__, #a,	\
		    t_a_ ? t_a_ : "(null)", t_b_);			\
	}								\
} while (0)

#define T_RUN(fn) do {							\
	int t_before_ = t_fail;						\
	fn();								\
	fprintf(stderr, "%s %s\n",					\
	    t_fail == t_before_ ? "ok  " : "FAIL", #fn);		\
} while (0)

static inline int
t_done(void)
{
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail == 0 ? 0 : 1;
}

#endif
