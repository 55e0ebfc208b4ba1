/* placeholder: src/coap/coapfront.c is being written */
typedef int placeholder_src_coap_coapfront_c;
