from verifix.cli import main

raise SystemExit(main())
