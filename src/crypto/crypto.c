/* placeholder: src/crypto/crypto.c is being written */
typedef int placeholder_src_crypto_crypto_c;
