/* placeholder */
#ifndef OTAGW_SRC_HTTP_RANGE_H
#define OTAGW_SRC_HTTP_RANGE_H
#endif
