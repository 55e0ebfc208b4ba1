/* placeholder */
#ifndef OTAGW_SRC_RELAY_FETCH_H
#define OTAGW_SRC_RELAY_FETCH_H
#endif
