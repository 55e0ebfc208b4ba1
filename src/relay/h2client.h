/* placeholder */
#ifndef OTAGW_SRC_RELAY_H2CLIENT_H
#define OTAGW_SRC_RELAY_H2CLIENT_H
#endif
