/* placeholder */
#ifndef OTAGW_OPS_H
#define OTAGW_OPS_H
#endif
