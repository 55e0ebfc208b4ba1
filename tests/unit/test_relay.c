/* placeholder */
#include "../unit/t.h"
int main(void) { return 77; }
