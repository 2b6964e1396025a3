#error "memscope supports Linux only: there is no platform/<os>/ implementation for this system"
