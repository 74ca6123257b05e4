from crm_api.cli import main

main()
