/* placeholder */
#ifndef OTAGW_SRC_HTTP_CONN_H
#define OTAGW_SRC_HTTP_CONN_H
#endif
