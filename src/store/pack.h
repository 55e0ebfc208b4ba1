/* placeholder */
#ifndef OTAGW_PACK_H
#define OTAGW_PACK_H
#endif
