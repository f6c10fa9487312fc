/* Small predicates over C strings, shared so each has one definition. */
#ifndef AEGIS_TEXT_H
#define AEGIS_TEXT_H

#include <ctype.h>
#include <stdbool.h>

/* S is one or more ASCII digits and nothing else. */
static inline bool text_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

#endif
